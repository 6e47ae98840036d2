"""What runs inside a pipeline worker: source, model backend, decoder, annotator, outputs.

Nothing here imports Ray. Import the modules themselves (`coral_serve.engine.source`, ...);
this package re-exports nothing, so reading the pipeline schema (`coral_serve.schema`) does
not pull in OpenCV or ONNX Runtime.
"""
