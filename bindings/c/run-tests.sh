#!/usr/bin/env bash
# Placeholder until the C binding lands.
echo "C binding: no suites yet"
