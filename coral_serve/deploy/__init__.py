"""Manifests generated from the descriptor: Serve configs, KubeRay RayService."""
