#!/bin/sh
echo "installed: $(ls /app/site-packages | tr '\n' ' ')"
