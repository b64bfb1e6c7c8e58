#!/bin/sh
# run_example.sh ENV_FILE PROGRAM [ARGS...] — runs an example against the ctest fixture's server:
# reads SERVER_URL, API_KEY and API_SECRET from the fixture's env file (KEY=VALUE lines) and passes
# them as SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET, the variables every example reads.
set -eu
env_file=$1
shift
if [ ! -r "$env_file" ]; then
  echo "run_example: $env_file is not readable: run through ctest (the sync_server fixture writes it)" >&2
  exit 1
fi
while IFS='=' read -r key value; do
  case $key in
    SERVER_URL) SYNC_SERVER_URL=$value ;;
    API_KEY) SYNC_API_KEY=$value ;;
    API_SECRET) SYNC_API_SECRET=$value ;;
  esac
done < "$env_file"
export SYNC_SERVER_URL SYNC_API_KEY SYNC_API_SECRET
exec "$@"
