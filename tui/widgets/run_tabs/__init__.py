"""The tabs of the run page, one widget each (see base.py's RunTab for what a tab does).

The run page (tui/screens/run.py) lists its tab classes in RUN_TABS, in the order of the number
keys; adding a tab is adding its class there.
"""
