"""Tooling around the lab: nothing here changes what a method computes.

cli            python -m labkit {eval,train,compare,build-data}
build          rebuilds the shipped teacher and student in data/
checkpoint     atomic, resumable checkpoints (safetensors + JSON)
fastdecode     a lean KV-cache decode step for Llama/Qwen layouts (same tokens as transformers' forward)
notebook       what the notebooks share: finding data/, recording results for the tests, show_source
run_notebooks  executes the notebooks with papermill (the tests and `make run`)
"""
