"""The cnnc runtime: executes a `cnnc_runtime.plan.Plan` forward and backward on NumPy (or CuPy).

It never imports `cnnc`: a Plan is plain data, so another front end could build one.
"""
