"""Generators survive a registry made to be awkward (awkward_registry.py):
keywords and builtins as names, names that clash with the langpacks' own
or with each other once spelled, long names, names ending in every GOOS
and GOARCH, deep nesting, every type, a 300-value enum and 1,000+ event
versions. Each langpack must compile, load, and pass its language's
checkers (gofmt, go vet; mypy --strict, pycodestyle; php -l, phpcs)."""

import json

import pytest

from awkward_registry import write
from conftest import gen, go_env, mypy_strict, php_lint, run, tool


@pytest.fixture(scope="module")
def go_targets():
    """Every GOOS/GOARCH pair of the installed Go (`go tool dist list`)."""
    out = run([tool("go"), "tool", "dist", "list"]).stdout.split()
    assert "linux/amd64" in out and "js/wasm" in out
    return out


@pytest.fixture(scope="module")
def awkward_and_count(tmp_path_factory, go_targets):
    return write(tmp_path_factory.mktemp("awkward") / "registry",
                 go_targets=go_targets)


@pytest.fixture(scope="module")
def awkward(awkward_and_count):
    return awkward_and_count[0]


@pytest.fixture(scope="module")
def versions(awkward_and_count):
    """How many event versions the langpacks hold."""
    return awkward_and_count[1]


def test_go_builds_and_vets(awkward, versions, tmp_path):
    out = gen(awkward, "awkward", "go", tmp_path / "go")
    assert run([tool("gofmt"), "-l", "."], cwd=out).stdout.strip() == ""
    env = go_env(tmp_path)
    run([tool("go"), "vet", "./..."], cwd=out, env=env)
    # No file is left out of the build for its name (_linux, _test ...).
    listed = json.loads(run([tool("go"), "list", "-json", "."], cwd=out,
                            env=env).stdout)
    assert listed.get("IgnoredGoFiles") is None, listed["IgnoredGoFiles"]
    assert listed.get("TestGoFiles") is None, listed["TestGoFiles"]
    assert "attrs_android_event.go" in listed["GoFiles"]
    assert "unit_test_event.go" in listed["GoFiles"]
    assert "thing_test_object.go" in listed["GoFiles"]
    # Every version is reachable by id, and keyword-named fields work.
    (out / "awkward_test.go").write_text('''package awkward

import "testing"

func TestAwkward(t *testing.T) {
	n := 0
	for id := int64(1); id < 2000; id++ {
		for v := 0; v < 5; v++ {
			if NewEvent(id, v) != nil {
				n++
			}
		}
	}
	if n != VERSIONS {
		t.Fatalf("NewEvent knows %d event versions, want VERSIONS", n)
	}
	e := NewAwkwardKeywordsV0()
	e.SetType("t")
	e.SetFunc("f")
	e.SetEventTimeField("x")
	if e.Type() != "t" || e.EventTimeField() != "x" {
		t.Fatal("keyword fields")
	}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	var c Class
	c.SetClass("too long a value")
	o := NewAwkwardObjectsV0()
	o.SetObjClass(&c)
	if err := o.Validate(); err == nil || err.Error() != "awkward_objects v0: fields.obj_class.class: 16 characters, more than max_length 10" {
		t.Fatalf("got %v", err)
	}
	// names spelled alike get the suffix Field (accessors), _ (struct
	// fields), Value (constants), Type (types and their constructors)
	k := NewClashV0(1, 2, "a", "b", "t0", "t", ClashV0ModeID)
	k.SetAppendFieldsField("x")
	if k.UserID() != 1 || k.UserIDField() != 2 || k.Mode() != "id" {
		t.Fatal("fields spelled alike")
	}
	if ClashV0ModeIDValue != "i_d" || ClashV0ModeClass != "class" {
		t.Fatal("enum constants spelled alike")
	}
	var _ *NewClashV0Type = NewNewClashV0Type("m")
	var _ *ClashV0ModeCardType = NewClashV0ModeCardType()
	var _ *NewEventTypeType = NewNewEventTypeType()
	if err := k.Validate(); err != nil {
		t.Fatal(err)
	}
	// two pattern variables spelled alike stay two
	a, ac := NewAbV0("abc"), NewAbV0C("123")
	k.SetObjAbV0(a)
	nc := NewNewClashV0Type("m")
	nc.SetObjAbV0C(ac)
	if err := k.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := nc.Validate(); err != nil {
		t.Fatal(err)
	}
	ac.SetD("abc")
	const want = "new_clash v0: fields.obj_ab_v0_c.d: "
	if err := nc.Validate(); err == nil || len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Fatalf("got %v", err)
	}
	k.SetObjAbV0(nil)
	if b := k.AppendFields(nil); string(b) != `{"user_id":1,"user_i_d":2,"ab_c":"a","abc":"b","this":"t0","this_field":"t","append_fields":"x","mode":"id"}` {
		t.Fatalf("encoded %s", b)
	}
}
'''.replace("VERSIONS", str(versions)))
    run([tool("go"), "test", "./..."], cwd=out, env=env)


def test_python_type_checks_and_imports(awkward, versions, tmp_path):
    out = gen(awkward, "awkward", "python", tmp_path / "py")
    run(mypy_strict("reestr_awkward"), cwd=out, timeout=900)
    run([tool("pycodestyle"), "--exclude=runtime", "reestr_awkward"], cwd=out)
    script = '''
import inspect
import warnings
import reestr_awkward as p
warnings.simplefilter("ignore", DeprecationWarning)
assert len(p.EVENTS) == VERSIONS, len(p.EVENTS)
for cls in p.EVENTS.values():
    # every required field is a keyword argument without a default
    params = inspect.signature(cls).parameters.values()
    cls(**{q.name: None for q in params if q.default is q.empty})
e = p.AwkwardKeywordsV0(class_="c", type="t", property_="p", event_time_field="x")
e.set_def_("d").set_return_("r")
e.validate()
assert e.class_ == "c" and e.event_time_field == "x" and e.def_ == "d"
o = p.AwkwardObjectsV0(obj_class=p.Class(class_="too long a value"))
try:
    o.validate()
except p.ValidationError as err:
    assert str(err) == "awkward_objects v0: fields.obj_class.class: 16 characters, more than max_length 10", err
else:
    raise AssertionError("no error")
# fields named after the runtime's private attributes and an object's
# methods: both keep working
c = p.ClashV0(user_id=1, user_i_d=2, ab_c="a", abc="b",
              encode_fields_field="e",
              event_time_us_field="u", this="t", this_field="tf",
              mode=p.ClashV0Mode.I_D,
              methods=p.Methods(validate_field="v", encode_field="c"))
c.validate()
assert c.event_time.year > 2000 and c.encode_fields_field == "e"
body = p.runtime.encode_event(c, "awkward", "s").decode()
assert ('"fields":{"user_id":1,"user_i_d":2,"ab_c":"a","abc":"b",'
        '"this":"t","this_field":"tf",'
        '"encode_fields":"e","event_time_us":"u","mode":"i_d",'
        '"methods":{"validate":"v","encode":"c"}}') in body, body
assert p.AnyType and p.EVENTSType and p.ENVIRONMENTType
# two pattern constants spelled alike stay two
c.obj_ab_v0 = p.AbV0(c_d="abc")
c.validate()
nc = p.NewClashV0(mode="m", obj_ab_v0_c=p.AbV0C(d="123"))
nc.validate()
nc.obj_ab_v0_c = p.AbV0C(d="abc")
try:
    nc.validate()
except p.ValidationError as err:
    assert str(err).startswith("new_clash v0: fields.obj_ab_v0_c.d: "), err
else:
    raise AssertionError("no error")
assert isinstance(p.ENVIRONMENT, str)
'''.replace("VERSIONS", str(versions))
    run([tool("python3"), "-c", script], cwd=out)


def test_php_loads_every_class(awkward, versions, tmp_path):
    out = gen(awkward, "awkward", "php", tmp_path / "php")
    php_lint(out / "src")
    run([tool("phpcs"), "--standard=PSR12", "-n", "src"], cwd=out)
    script = '''<?php
declare(strict_types=1);
spl_autoload_register(function (string $c): void {
    $p = 'Reestr\\\\Langpack\\\\Awkward\\\\';
    if (str_starts_with($c, $p)) {
        require __DIR__ . '/src/' . str_replace('\\\\', '/', substr($c, strlen($p))) . '.php';
    }
});
$n = 0;
foreach (glob(__DIR__ . '/src/*.php') as $f) {
    $c = 'Reestr\\\\Langpack\\\\Awkward\\\\' . basename($f, '.php');
    if (!class_exists($c) && !enum_exists($c)) {
        throw new RuntimeException("$c did not load");
    }
    $n++;
}
$e = new Reestr\\Langpack\\Awkward\\AwkwardKeywordsV0(class: 'c', type: 't');
$e->setEventTimeField('x')->setReturn('r');
$e->validate();
if ($e->getEventTimeField() !== 'x' || $e->getClass() !== 'c') {
    throw new RuntimeException('keyword fields');
}
$o = new Reestr\\Langpack\\Awkward\\AwkwardObjectsV0(objClass: new Reestr\\Langpack\\Awkward\\ClassType(class: 'too long a value'));
try {
    $o->validate();
    throw new RuntimeException('no error');
} catch (Reestr\\Langpack\\Awkward\\Runtime\\ValidationException $err) {
    if ($err->getMessage() !== 'awkward_objects v0: fields.obj_class.class: 16 characters, more than max_length 10') {
        throw $err;
    }
}
// names PHP reads alike: methods and classes ignore case
$k = new Reestr\\Langpack\\Awkward\\ClashV0(userId: 1, userIDField: 2, abC: 'a', abcField: 'b', thisField: 't',
    thisFieldField: 'tf', mode: Reestr\\Langpack\\Awkward\\ClashV0Mode::ClassValue);
$k->setObjAbcField(new Reestr\\Langpack\\Awkward\\AbcType())->setObjAbC(new Reestr\\Langpack\\Awkward\\AbC());
$k->validate();
if ($k->getAbC() !== 'a' || $k->getAbcField() !== 'b' || $k->getThis() !== 't' || $k->getThisField() !== 'tf'
    || Reestr\\Langpack\\Awkward\\ClashV0Mode::ClassValueValue->value !== 'class_value') {
    throw new RuntimeException('names read alike');
}
$body = Reestr\\Langpack\\Awkward\\Runtime\\Json::event($k, 'awkward', 's');
if (!str_contains($body, '"fields":{"user_id":1,"user_i_d":2,"ab_c":"a","abc":"b","this":"t","this_field":"tf","mode":"class"')) {
    throw new RuntimeException($body);
}
echo "$n\\n";
'''
    (out / "load.php").write_text(script)
    n = int(run([tool("php"), "load.php"], cwd=out).stdout.strip())
    assert n > versions
