"""Local emulators of every provider protocol, on 127.0.0.1, written from the design's wire notes."""
