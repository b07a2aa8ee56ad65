#!/usr/bin/env bash
# Placeholder until the Python binding lands.
echo "Python binding: no suites yet"
