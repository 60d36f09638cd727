# cow.storage: `make lab` (the main job) and `make test` (the whole suite) on a fresh Debian 12, as root.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export LAB_STATE ?= $(CURDIR)/.lab
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= 1
export PY_COLORS ?= 1
LAB_FLEET ?= $(CURDIR)/playbooks/vars/lab_fleet.yml
SCENARIOS ?= default
# 1: the lab also gets its VM host cow-dm (qemu, its own kernel: device-mapper, thin pools).
LAB_VMS ?= 1
ENGINE := roles/lab/files/lab-engine.sh

.PHONY: release-check help deps engine lab lab-up lab-down site sanity sanity-newest lint unit molecule galaxy test bench bench-quick bench-self bench-migrate ee units docs docs-lint
help:
	@echo "make lab       bring up the lab fleet, converge it with site.yml, print the report"
	@echo "make test      the whole suite: sanity, lint, unit, galaxy, molecule ($(SCENARIOS))"
	@echo "make lab-down  remove the lab: hosts, disks, loop devices, VMs, the private engine"
	@echo "make lab LAB_VMS=1  the lab with its VM host cow-dm (qemu: device-mapper, thin pools)"
	@echo "make bench     container start / clone / snapshot cost per backend -> bench-results/"
	@echo "make docs      the HTML docs (antsibull-docs) -> .cache/docs/build/html/index.html"
	@echo "make release-check  before publishing: release notes, galaxy.yml URLs, the importer (fatal without URLs)"
	@echo "finer: deps engine lab-up site sanity sanity-newest lint unit units docs-lint galaxy molecule SCENARIOS='default btrfs'"

deps:
	@bash scripts/deps.sh

engine: deps
	@$(ENGINE) up >/dev/null

lab-up: engine
	ansible-playbook playbooks/lab.yml -e lab_fleet=$(LAB_FLEET) -e lab_vms=$(LAB_VMS)

site:
	ansible-playbook -i inventories/lab site.yml

# deps, engine, the three image builds side by side (host, VM, benchmark images), hosts, converge, bench-quick,
# each long step with a progress line and its duration (scripts/lab.sh).
lab:
	@LAB_VMS=$(LAB_VMS) LAB_FLEET=$(LAB_FLEET) bash scripts/lab.sh

# The seed's table for the lab: CoW backends vs vfs with real Debian images (quick: debian-dev, 3 runs; kept for the next run).
# The VM host is left out here: under TCG one docker run takes 20-30 s (make bench includes it).
bench-quick:
	ansible-playbook -i inventories/lab playbooks/benchmark.yml -e benchmark_quick=true -e benchmark_keep_images=true -e 'target=all:!lab_vms'

# Execution environment build context (AWX / Automation Platform): .cache/ee/context
ee: deps
	rm -rf .cache/ee && mkdir -p .cache/ee/meta && cp execution-environment.yml .cache/ee/ && cp meta/ee-* .cache/ee/meta/
	ansible-galaxy collection build --force --output-path .cache/ee .
	cd .cache/ee && ansible-builder create --file execution-environment.yml --context context
	@echo "build context: .cache/ee/context (ansible-builder build needs the base image and package indexes reachable)"

bench: deps
	ansible-playbook -i inventories/lab playbooks/benchmark.yml
	$(MAKE) bench-self

# The collection's own speed against a hand-written peer play: first and no-op converge for 1/4/8 hosts, round-trips, CPU.
# Migration downtime by path (staged, archive) against a plain restart, on a molecule/migration lab host (issue 27)
bench-migrate: engine
	@DOCKER_HOST=$$($(ENGINE) env | sed 's/^DOCKER_HOST=//') bash scripts/bench-migrate.sh

bench-self: engine
	python scripts/bench-self.py

lab-down:
	@if [ -x $(VENV)/bin/ansible-playbook ]; then \
	  ansible-playbook playbooks/lab.yml -e lab_fleet=$(LAB_FLEET) -e lab_state=absent -e lab_engine_stop=true; \
	else $(ENGINE) down; fi

sanity: deps
	@bash scripts/sanity.sh

# The same sanity run on the newest ansible-core (tests/sanity/requirements-newest.txt, Python 3.12).
sanity-newest: deps
	@SANITY_VENV=$(CURDIR)/.cache/venv-sanity-newest bash scripts/sanity.sh

lint: deps
	ansible-lint --profile production

unit: deps
	python -m pytest tests/unit -q

galaxy: deps
	@bash scripts/galaxy-check.sh

# ansible-test units in a venv of its own, with tests/unit/requirements.txt.
units: deps
	@bash scripts/units.sh

# The docs site (antsibull-docs, offline): .cache/docs/build/html/index.html
docs: deps
	@bash scripts/docs.sh build

docs-lint: deps
	@bash scripts/docs.sh lint

molecule: engine
	@for s in $(SCENARIOS); do echo "== molecule test -s $$s"; \
	  DOCKER_HOST=$$($(ENGINE) env | sed 's/^DOCKER_HOST=//') molecule test -s $$s || exit 1; done

test: deps
	@bash scripts/test.sh

# Before publishing: the release notes render with every module and role, and Galaxy's importer passes with
# galaxy.yml's own URLs (repository, documentation, issues; fatal here while unset, a warning in make test).
release-check: deps
	python3 scripts/release-notes-check.py
	@for key in repository documentation issues; do grep -qE "^$$key:" galaxy.yml || { echo "release-check: galaxy.yml has no $$key URL (set it there)" >&2; exit 1; }; done
	GALAXY_PUBLISH=1 bash scripts/galaxy-check.sh

