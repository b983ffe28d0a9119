#!/bin/sh
echo "hello from slipway on $(uname -m)"
