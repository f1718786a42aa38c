"""The engines that run a run's stages: the local runner (one dflow workflow per round, in debug mode), the Argo
loop workflow and its OPs (dflow/), and the processes they leave behind (processes.py). Stage code lives in the
stage packages; an engine only moves inputs and outputs."""
