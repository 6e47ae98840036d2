"""What runs inside a pipeline worker: source, model backend, decoder, annotator, outputs.

Nothing here imports Ray. Import the modules themselves (`coral_serve.engine.spec`, ...);
this package re-exports nothing, so reading the configuration schema (which imports
`engine.spec`) does not pull in OpenCV or ONNX Runtime.
"""

# The config schema imports engine.spec, and engine.spec imports config.base: importing the
# config package first makes that cycle resolve whichever module a caller imports first.
import coral_serve.config  # noqa: F401
