"""Entry points: thin doors into the lab; nothing here computes what a method or a study does.

cli            python -m labkit {eval,train,compare,build-data}
build          rebuilds the shipped teacher and student in data/ (make data)
run_notebooks  executes the notebooks with papermill (the tests, `make run`, `make notebooks`)
"""
