"""The push stage: send records concurrently, classify every answer, retry what is safe."""
