"""Where pipelines run: one worker per pipeline, in Ray actors or (for tests) in-process."""

from coral_serve.workers.pool import WorkerGone, WorkerPool, worker_name

__all__ = ["WorkerGone", "WorkerPool", "worker_name"]
