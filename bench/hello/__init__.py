"""The web floor: a bare Django project (startproject's stack) answering "Hello, world".

Served by the same gunicorn, with the same number of workers and the same database
settings as Settle (`bench/loadrun.py`), so a page's ratio to it is Settle's own cost.
"""
