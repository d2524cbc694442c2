"""`iiot demo`: the whole pipeline on this machine, its parts as separate processes.

plan      what one run is: size, speed, its own topic prefix, schema and log directory
children  starting, watching and stopping the parts (process groups, logs under .demo/)
probe     cheap readings while it runs: topic offsets, consumer lag, rows in the views
display   the live panel
summary   what an operator would see afterwards, read from the database views
runs      earlier runs: their record, and pruning all but the newest few
command   the `iiot demo` command that strings these together
"""
