"""The dflow layer: thin OPs over the stage functions, workflows built from them, a local runner."""
