"""The generated code passes each language's own checkers: gofmt and go vet,
mypy --strict and pycodestyle (PEP 8), php -l and phpcs (PSR-12)."""

from conftest import go_env, run, tool


def test_go_is_formatted_and_vetted(example_langpacks, tmp_path):
    out = example_langpacks["go"]
    unformatted = run([tool("gofmt"), "-l", "."], cwd=out).stdout.strip()
    assert unformatted == "", f"not gofmt-formatted: {unformatted}"
    env = go_env(tmp_path)
    run([tool("go"), "build", "./..."], cwd=out, env=env)
    run([tool("go"), "vet", "./..."], cwd=out, env=env)


def test_python_passes_mypy_strict_and_pep8(example_langpacks):
    out = example_langpacks["python"]
    run([tool("mypy"), "--strict", "--no-incremental", "--cache-dir=/dev/null", "reestr_bo"], cwd=out)
    run([tool("pycodestyle"), "--exclude=runtime", "reestr_bo"], cwd=out)


def test_php_lints_and_follows_psr12(example_langpacks):
    out = example_langpacks["php"]
    for f in sorted((out / "src").rglob("*.php")):
        run([tool("php"), "-l", str(f)])
    run([tool("phpcs"), "--standard=PSR12", "-n", "src"], cwd=out)
