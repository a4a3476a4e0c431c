"""The generated code passes each language's own checkers: gofmt and go vet,
mypy --strict and pycodestyle (PEP 8), php -l and phpcs (PSR-12)."""

from conftest import gen, go_env, mypy_strict, php_lint, run, tool


def test_go_is_formatted_and_vetted(example_langpacks, tmp_path):
    out = example_langpacks["go"]
    unformatted = run([tool("gofmt"), "-l", "."], cwd=out).stdout.strip()
    assert unformatted == "", f"not gofmt-formatted: {unformatted}"
    env = go_env(tmp_path)
    run([tool("go"), "build", "./..."], cwd=out, env=env)
    run([tool("go"), "vet", "./..."], cwd=out, env=env)


def test_python_passes_mypy_strict_and_pep8(example_langpacks):
    out = example_langpacks["python"]
    run(mypy_strict("reestr_bo"), cwd=out)
    run([tool("pycodestyle"), "--exclude=runtime", "reestr_bo"], cwd=out)


def test_php_lints_and_follows_psr12(example_langpacks):
    out = example_langpacks["php"]
    php_lint(out / "src")
    run([tool("phpcs"), "--standard=PSR12", "-n", "src"], cwd=out)


def test_python_module_without_objects_is_pep8(tmp_path):
    """A registry without objects still gets an objects.py, which must
    not end in a blank line (W391)."""
    reg = tmp_path / "registry"
    reg.mkdir()
    (reg / "owners.yaml").write_text("owners:\n  team:\n    contact: t@example.com\n")
    (reg / "sources.yaml").write_text("sources:\n  svc:\n    owner: team\n")
    (reg / "events.yaml").write_text(
        "events:\n  ping:\n    id: 1\n    owner: team\n    versions:\n"
        "      - version: 0\n        fields:\n          n: int\n")
    (reg / "environments.yaml").write_text(
        "environments:\n  solo:\n    description: One event.\n    events: [ping]\n")
    out = gen(reg, "solo", "python", tmp_path / "py")
    assert (out / "reestr_solo" / "objects.py").exists()
    run([tool("pycodestyle"), "--exclude=runtime", "reestr_solo"], cwd=out)
    run(mypy_strict("reestr_solo"), cwd=out)
