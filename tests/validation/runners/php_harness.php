<?php

// Runs wire trees (runners/wire.py) through a generated PHP langpack:
//
//     php php_harness.php LANGPACK_DIR TREES.json
//
// Each tree becomes the event class's constructor arguments, found by
// reflection (the parameter types, and the PHPDoc list<...> of arrays),
// with the conversions a PHP program decoding the JSON would make. What a
// typed PHP parameter cannot hold (strict_types) is refused here, with the
// path, as a decoder error: a value of another JSON kind, an int beyond
// int64, a number with a fraction or exponent for an int, a string that is
// not one of a backed enum's cases, a timestamp text DateTimeImmutable
// cannot hold, an unknown or repeated member. List elements are not typed
// in PHP: they arrive as json_decode would give them and the generated
// checks judge them. NaN and infinities are PHP's NAN and INF; strings
// carry their bytes as they are. Then validate(). Prints one JSON line per
// tree.

declare(strict_types=1);

final class Refused extends Exception
{
    public function __construct(public readonly string $path, public readonly string $msg)
    {
        parent::__construct("$path: $msg");
    }
}

$dir = $argv[1];
$ns = 'Reestr\\Langpack\\Bo\\';
spl_autoload_register(function (string $class) use ($dir, $ns): void {
    if (str_starts_with($class, $ns)) {
        $file = $dir . '/src/' . str_replace('\\', '/', substr($class, strlen($ns))) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});

/** @var list<Refused> $deferred what the decode step refused, in document order; the runner orders
 * these and validate()'s answer as the collector walks the event */
$deferred = [];

function kind(array $n): string
{
    return match ($n['t']) {
        'null' => 'null',
        'bool' => 'a bool',
        'num' => preg_match('/^-?(0|[1-9][0-9]*)$/', $n['s']) ? 'an integer' : 'a number',
        'str' => 'a string',
        'arr' => 'an array',
        default => 'an object',
    };
}

function expected(string $type): string
{
    return match ($type) {
        'int' => 'expected an integer',
        'float' => 'expected a float',
        'string' => 'expected a string',
        'bool' => 'expected a bool',
        'array' => 'expected an array',
        'DateTimeInterface' => 'expected an RFC 3339 timestamp string',
        default => enum_exists($type) ? 'expected a string' : 'expected an object',
    };
}

/** The value json_decode($text, true) gives. */
function raw(array $n): mixed
{
    switch ($n['t']) {
        case 'null':
            return null;
        case 'bool':
            return $n['v'];
        case 'num':
            return number($n['s']);
        case 'str':
            return base64_decode($n['b']);
        case 'arr':
            return array_map('raw', $n['v']);
    }
    $o = [];
    foreach ($n['m'] as [$k, $v]) {
        $o[$k] = raw($v);
    }
    return $o;
}

function number(string $s): int|float
{
    if ($s === 'NaN') {
        return NAN;
    }
    if ($s === 'Infinity' || $s === '-Infinity') {
        return $s[0] === '-' ? -INF : INF;
    }
    if (preg_match('/^-?(0|[1-9][0-9]*)$/', $s)) {
        $i = filter_var($s, FILTER_VALIDATE_INT);
        if ($i !== false) {
            return $i;
        }
    }
    return (float) $s;
}

function timestamp(string $s, string $path): DateTimeImmutable
{
    $bad = 'not an RFC 3339 timestamp: ';
    $re = '/^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?'
        . '(Z|[+-]([0-9]{2}):([0-9]{2}))?$/D';
    if (!preg_match($re, $s, $m)) {
        throw new Refused($path, $bad . 'not an RFC 3339 date-time (want YYYY-MM-DDTHH:MM:SSZ)');
    }
    if (($m[8] ?? '') === '') {
        throw new Refused($path, $bad . 'time zone missing (end with Z or +hh:mm)');
    }
    [$y, $mo, $d, $h, $mi, $sec] = array_map('intval', array_slice($m, 1, 6));
    if (!checkdate($mo, $d, max($y, 1)) || $h > 23 || $mi > 59 || $sec > 59) {
        throw new Refused($path, $bad . 'date or time out of range');
    }
    if ($m[8] !== 'Z' && ((int) $m[9] > 23 || (int) $m[10] > 59)) {
        throw new Refused($path, $bad . 'time zone offset out of range');
    }
    // PHP keeps microseconds: the fraction is cut to 6 digits
    $frac = isset($m[7]) && $m[7] !== '' ? substr($m[7] . '00000', 0, 7) : '.000000';
    $text = sprintf('%s-%s-%sT%s:%s:%s%s%s', $m[1], $m[2], $m[3], $m[4], $m[5], $m[6], $frac,
        $m[8] === 'Z' ? '+00:00' : $m[8]);
    $t = DateTimeImmutable::createFromFormat('Y-m-d\TH:i:s.uP', $text);
    if ($t === false) {
        throw new Refused($path, $bad . 'date or time out of range');
    }
    return $t;
}

/** @param string $doc the PHPDoc type: list<int>, or a class */
function convert(array $n, string $type, string $path): mixed
{
    global $deferred;
    $type = qualify($type);
    $fail = fn () => new Refused($path, expected(ltrim($type, '\\')) . ', got ' . kind($n));
    if (str_starts_with($type, 'list<')) {
        if ($n['t'] !== 'arr') {
            throw $fail();
        }
        $item = qualify(substr($type, 5, -1));
        $out = [];
        foreach ($n['v'] as $i => $x) {
            try {
                $out[] = $x['t'] === 'null' ? null : element($x, $item, "{$path}[$i]");
            } catch (Refused $r) {
                $deferred[] = $r; // the list's own checks come first
                $out[] = null;
            }
        }
        return $out;
    }
    $type = ltrim($type, '\\');
    switch ($type) {
        case 'int':
            if ($n['t'] !== 'num' || !preg_match('/^-?(0|[1-9][0-9]*)$/', $n['s'])) {
                throw $fail();
            }
            $v = number($n['s']);
            if (!is_int($v)) {
                throw new Refused($path, $n['s'] . ' is out of the int64 range (-9223372036854775808..9223372036854775807)');
            }
            return $v;
        case 'float':
            if ($n['t'] !== 'num') {
                throw $fail();
            }
            return (float) number($n['s']);
        case 'string':
            if ($n['t'] !== 'str') {
                throw $fail();
            }
            return base64_decode($n['b']);
        case 'bool':
            if ($n['t'] !== 'bool') {
                throw $fail();
            }
            return $n['v'];
        case 'DateTimeInterface':
            if ($n['t'] !== 'str') {
                throw $fail();
            }
            return timestamp(base64_decode($n['b']), $path);
    }
    if (enum_exists($type)) {
        if ($n['t'] !== 'str') {
            throw $fail();
        }
        $s = base64_decode($n['b']);
        if (preg_match('//u', $s) !== 1) {
            throw new Refused($path, 'invalid UTF-8 in string');
        }
        $case = $type::tryFrom($s);
        if ($case === null) {
            $values = implode(', ', array_map(fn ($c) => $c->value, $type::cases()));
            throw new Refused($path, "'$s' is not one of $values");
        }
        return $case;
    }
    if ($n['t'] !== 'obj') {
        throw $fail();
    }
    return build($type, $n, $path);
}

/** A list element: classes converted, scalars as json_decode gives them. */
function element(array $n, string $type, string $path): mixed
{
    $t = ltrim($type, '\\');
    if (str_starts_with($t, 'list<')) {
        return $n['t'] === 'arr' ? convert($n, $t, $path) : raw($n);
    }
    if (in_array($t, ['int', 'float', 'string', 'bool'], true)) {
        if ($t === 'int' && $n['t'] === 'num' && preg_match('/^-?(0|[1-9][0-9]*)$/', $n['s'])
            && !is_int(number($n['s']))) {
            throw new Refused($path, $n['s'] . ' is out of the int64 range (-9223372036854775808..9223372036854775807)');
        }
        return raw($n);
    }
    if ($t === 'DateTimeInterface' || enum_exists($t)) {
        return $n['t'] === 'str' ? convert($n, $t, $path) : raw($n);
    }
    return $n['t'] === 'obj' ? convert($n, $t, $path) : raw($n);
}

/** A PHPDoc type names a class of the langpack's namespace unqualified. */
function qualify(string $type): string
{
    global $ns;
    if (str_starts_with($type, 'list<')) {
        return 'list<' . qualify(substr($type, 5, -1)) . '>';
    }
    $type = ltrim($type, '\\');
    if (in_array($type, ['int', 'float', 'string', 'bool', 'array', 'DateTimeInterface'], true)
        || str_contains($type, '\\')) {
        return $type;
    }
    return $ns . $type;
}

function camel(string $snake): string
{
    return lcfirst(str_replace(' ', '', ucwords(str_replace('_', ' ', $snake))));
}

function build(string $class, array $n, string $path): object
{
    global $deferred;
    $ctor = (new ReflectionClass($class))->getConstructor();
    $params = [];
    foreach ($ctor?->getParameters() ?? [] as $p) {
        $params[$p->getName()] = $p;
    }
    $doc = $ctor?->getDocComment() ?: '';
    $seen = [];
    $args = [];
    foreach ($n['m'] as [$key, $_]) {
        if (isset($seen[$key])) {
            $deferred[] = new Refused("$path.$key", 'given twice');
            continue;
        }
        $seen[$key] = true;
        $name = null;
        if (preg_match('/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/D', $key)) {
            foreach ([camel($key), camel($key) . 'Field', $key === 'this' ? 'thisField' : null] as $c) {
                if ($c !== null && isset($params[$c])) {
                    $name = $c;
                    break;
                }
            }
        }
        if ($name === null) {
            $deferred[] = new Refused("$path.$key", "unknown field ($class has: " . implode(', ', array_keys($params))
                . ')');
        }
    }
    $done = [];
    foreach ($n['m'] as [$key, $value]) {
        if ($value['t'] === 'null' || isset($done[$key])) {
            continue; // null is absent
        }
        $done[$key] = true;
        $name = null;
        if (preg_match('/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/D', $key)) {
            foreach ([camel($key), camel($key) . 'Field', $key === 'this' ? 'thisField' : null] as $c) {
                if ($c !== null && isset($params[$c])) {
                    $name = $c;
                    break;
                }
            }
        }
        if ($name === null) {
            continue;
        }
        $type = $params[$name]->getType()->getName();
        if ($type === 'array') {
            preg_match('/@param (list<.*>)(?:\|null)? \$' . $name . '\b/', $doc, $m);
            $type = $m[1];
        }
        try {
            $args[$name] = convert($value, $type, "$path.$key");
        } catch (Refused $r) {
            $deferred[] = $r;
        }
    }
    // A case may leave a required field out, which the constructor would
    // refuse before the send-time check could report it: the object is
    // made without its constructor, as Langpack::create does, and the
    // arguments become its properties (typed as the parameters, nullable).
    $r = new ReflectionClass($class);
    $obj = method_exists($class, 'blank') ? $class::blank() : $r->newInstanceWithoutConstructor();
    foreach ($args as $name => $value) {
        $r->getProperty($name)->setValue($obj, $value);
    }
    return $obj;
}

$trees = json_decode(file_get_contents($argv[2]), true, 100000);
$event = $ns . 'Langpack';
foreach ($trees as $tree) {
    $out = ['verdict' => 'accept', 'path' => null, 'message' => ''];
    if ($tree['t'] === 'error') {
        $out = ['verdict' => 'reject', 'path' => null, 'request' => true,
            'message' => 'invalid JSON: ' . $tree['why']];
    } else {
        $deferred = [];
        try {
            $class = $event::EVENTS['1:0'];
            build($class, $tree, 'fields')->validate();
        } catch (Throwable $e) {
            $isValidation = property_exists($e, 'field') && property_exists($e, 'detail');
            $out = ['verdict' => 'reject', 'path' => $isValidation ? $e->field : null,
                'message' => $isValidation ? $e->detail : get_class($e) . ': ' . $e->getMessage()];
        }
        $out['deferred'] = array_map(fn ($r) => [$r->path, $r->msg], $deferred);
    }
    echo json_encode($out, JSON_INVALID_UTF8_SUBSTITUTE | JSON_UNESCAPED_UNICODE), "\n";
}
