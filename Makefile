# The two commands a newcomer needs: `make up` (set up and start everything) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DEMO_LLM_PORT ?= 8011
# The suite runs on SQLite, then again on MariaDB/MySQL at this URL (skipped when unreachable,
# except under CI where it is required).
TEST_MYSQL_URL ?= mysql://root@127.0.0.1:3306/evalplatform
export DEBUG ?= 1

.PHONY: up install run test test-sqlite test-mysql css messages bench

up: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py compilemessages --ignore='.venv/*' --ignore='node_modules/*' -v0 || true
	$(PY) manage.py create_first_admin
	$(PY) manage.py sync_system_models
	$(PY) manage.py register_demo_models --url http://127.0.0.1:$(DEMO_LLM_PORT)/v1
	$(PY) manage.py load_demo_datasets
	@echo "Open http://127.0.0.1:$(PORT)/ — web, worker and demo LLM are starting (Ctrl-C stops all)."
	WEB_PORT=$(PORT) DEMO_LLM_PORT=$(DEMO_LLM_PORT) $(VENV)/bin/honcho start

# Installs Debian packages when they are missing (needs root or sudo), then the Python
# dependencies listed in pyproject.toml into .venv. The project itself is not installed.
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml tools/requirements.py tools/install_system_packages.sh
	sh tools/install_system_packages.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) tools/requirements.py mysql dev | $(PY) -m pip install --quiet -r /dev/stdin
	touch $@

test: install
	sh tools/run_tests.sh $(ARGS)

css:
	npm install --no-audit --no-fund && npm run build

messages:
	$(PY) manage.py makemessages -l zh_Hans -l en --ignore='.venv/*' --ignore='node_modules/*' --ignore='static/*'
	$(PY) manage.py compilemessages --ignore='.venv/*' --ignore='node_modules/*'
