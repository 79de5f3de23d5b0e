# Settle: `make run` serves the app with demo data; `make test` runs the tests.
PYTHON ?= python3
UV := .tools/bin/uv
VENV := .venv
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test test-postgres deps browser pdf-libs clean

# Invoice PDFs are rendered by WeasyPrint, which needs Pango (and HarfBuzz's subsetter) and a font.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python $(PYTHON)
	touch $@

deps: $(VENV)/.synced

# Browser tests drive Debian's Chromium; install it when missing and we may (root).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Install Debian's chromium (sudo apt-get install chromium) for the browser tests." >&2; exit 1; fi; }

# WeasyPrint's system libraries; installed when missing and we may (root).
pdf-libs:
	@{ ldconfig -p | grep libpangoft2-1.0 >/dev/null && ldconfig -p | grep libharfbuzz-subset >/dev/null && fc-list 2>/dev/null | grep . >/dev/null; } || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PDF_PACKAGES) >/dev/null; \
	  else echo "Install WeasyPrint's libraries for invoice PDFs: sudo apt-get install $(PDF_PACKAGES)" >&2; exit 1; fi; }

run: deps pdf-libs
	$(VENV)/bin/python -m settle.devserver

test: deps browser pdf-libs
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test-postgres: deps browser pdf-libs
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/settle} $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .tools var staticfiles
