"""The simulator's devices over real protocols (`iiot simulate --serve`): an OPC UA server, a
Modbus TCP server, or publications to an MQTT broker (JSON or Sparkplug B), each with the
mapping file an adapter reads them by (producers/adapters, docs/integrating.md)."""
