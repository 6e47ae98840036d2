"""A stand-in for rknn-toolkit-lite2, on the import path of the simulated NPU node only."""
