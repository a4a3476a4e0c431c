<?php

// Reads [{"re": body, "v": [values]}] (JSON) on stdin and writes, for each,
// whether preg_match('~' . body . '~uD') accepts each value: the PHP side
// of tests/integration/test_patterns.py.
declare(strict_types=1);

// PCRE backtracks: a pattern such as (?:x|[^\n])*y costs it exponential time
// in the value's length, and past pcre.backtrack_limit preg_match gives up
// (returns false). The values here are short; the limit is raised so only
// a real disagreement shows.
ini_set('pcre.backtrack_limit', '100000000');

$cases = json_decode((string) file_get_contents('php://stdin'), true, 512, JSON_THROW_ON_ERROR);
$out = [];
foreach ($cases as $c) {
    $re = '~' . $c['re'] . '~uD';
    $m = [];
    foreach ($c['v'] as $v) {
        $r = @preg_match($re, $v);
        if ($r === false) {
            $m = 'error: ' . preg_last_error_msg();
            break;
        }
        $m[] = $r === 1;
    }
    $out[] = $m;
}
echo json_encode($out, JSON_THROW_ON_ERROR), "\n";
