"""The factory model: enterprises → plants → lines → devices, state machines, fault injection.

Publishes through Kafka topics only; imports `iiot` and its own modules.
"""
