"""Data subjects: find a person across providers, answer their requests, erase them for good."""
