#!/bin/sh
# Run the whole suite on SQLite, then on MariaDB/MySQL ($TEST_MYSQL_URL).
# Under CI the MariaDB run is required (the server is started if it is not running);
# elsewhere it is skipped with a message when no server answers.
set -e
PY=.venv/bin/python
export DEBUG=1
# A run that was killed can leave the test database's WAL files behind; SQLite would read them
# into the next run's fresh database.
rm -f data/test_*.sqlite3 data/test_*.sqlite3-wal data/test_*.sqlite3-shm
echo "=== Test suite on SQLite ==="
DATABASE_URL="sqlite:///$(pwd)/data/test-sqlite.sqlite3" $PY -m pytest "$@"

mysql_up() { $PY -c "import MySQLdb, sys; MySQLdb.connect(host='127.0.0.1', user='root', connect_timeout=2)" 2>/dev/null; }
if ! mysql_up; then
  if [ -n "$CI" ] && [ -x /usr/sbin/mariadbd ]; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    for _ in $(seq 1 30); do mysql_up && break; sleep 1; done
  fi
fi
# Redis for the scale-out test (two web processes and two workers sharing it).
if [ -n "$CI" ] && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && command -v redis-server >/dev/null; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
fi
if mysql_up; then
  echo "=== Test suite on MariaDB ($TEST_MYSQL_URL) ==="
  DATABASE_URL="$TEST_MYSQL_URL" $PY -m pytest "$@"
elif [ -n "$CI" ]; then
  echo "MariaDB is required under CI and did not start." >&2
  exit 1
else
  echo "No MariaDB/MySQL server at 127.0.0.1:3306: skipped the MariaDB run."
fi
