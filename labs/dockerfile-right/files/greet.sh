#!/bin/sh
# The greeter: says hello and which user it runs as.
echo "Hello from greeter, running as uid=$(id -u)"
