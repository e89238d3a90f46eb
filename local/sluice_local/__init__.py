"""The local platform: the deployed handlers on one machine, against moto and a local endpoint."""
