# Two entry points for people: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.livc-installed
CATALOGUES := $(wildcard platform/translations/*/LC_MESSAGES/messages.po)
FRONTEND   := platform/frontend/package-lock.json platform/frontend/livc.scss scripts/build-frontend.sh

.PHONY: demo test lint-imports install test-tools translations clean

demo: $(STAMP)
	LIVC_ENV=development $(BIN)/livc demo

# The import contracts first (pyproject.toml, [tool.importlinter]: nothing imports upward), then
# the suite. pytest's exit status 5 means it collected no test at all: a broken run, never a pass.
test: $(STAMP) test-tools
	$(BIN)/lint-imports --no-cache
	@$(BIN)/python -m pytest -n 2 --dist loadfile; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$status

install: $(STAMP)

# The layers alone (seconds): what `make test` checks first.
lint-imports: $(STAMP)
	$(BIN)/lint-imports --no-cache

# Installs livc (editable, with the test extras), compiles the translation catalogues and builds the
# pages' stylesheet from the design system (npm govuk-frontend; scripts/build-frontend.sh).
$(STAMP): pyproject.toml setup.py $(CATALOGUES) $(FRONTEND)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/pybabel compile --statistics -d platform/translations
	bash scripts/build-frontend.sh
	touch $@

# Real tools the tests drive: Debian's chromium (browser tests) and 7-Zip (the export test), helm (chart tests), and
# the OpenID Connect provider the single sign-on tests sign in at (npm oidc-provider).
test-tools:
	sh scripts/install-browser.sh
	bash scripts/install-helm.sh >/dev/null
	bash scripts/install-oidc-provider.sh

# After changing user-facing strings: refresh the template and the catalogues, then translate.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_ngettext:1,2 --no-location --sort-output --project livc \
		--ignore-dirs ".venv .tools node_modules tests build" -o platform/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i platform/translations/messages.pot -d platform/translations
	$(BIN)/pybabel compile -d platform/translations

clean:
	rm -rf $(VENV) .tools build *.egg-info var
