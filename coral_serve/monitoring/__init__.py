"""What MonitorService is built from: polling and history, viewer counts, sink
outboxes, the Prometheus exposition, HTTP counts, the disk quota and its loops."""
