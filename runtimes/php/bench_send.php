<?php

// Microseconds per Sender::send() of a small event (the talk's clickstream
// event: five fields), the hot path. Target: <= 10 us.
//
//     php bench_send.php [N]
//
// The collector is PHP's built-in server in another process, accepting every
// batch. Prints figures; never passes or fails.

declare(strict_types=1);

require __DIR__ . '/tests/bootstrap.php';

use Reestr\Runtime\Config;
use Reestr\Runtime\Sender;
use Reestr\Runtime\Tests\Clickstream;
use Reestr\Runtime\Tests\FakeCollector;

$n = (int) ($argv[1] ?? 100000);
// a collector that only counts: the figures are the sender's, not its
$router = tempnam(sys_get_temp_dir(), 'collector');
file_put_contents($router, '<?php
$n = substr_count(file_get_contents("php://input"), "\"event_id\":");
header("Content-Type: application/json");
echo "{\"results\":[" . implode(",", array_fill(0, $n, "{\"status\":\"accepted\"}")) . "]}";');
$port = FakeCollector::freePort();
$quiet = [1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']];
$server = proc_open(['php', '-S', "127.0.0.1:$port", $router], $quiet, $pipes);
usleep(300000);
$event = fn () => new Clickstream(413, 'user413@example.com', 20.22, -10.11, 'fluffy_browser');

$rows = [
    // the batch holds the whole run (no byte cap): the loop is send() alone
    'send' => [false, $n + 1],
    'build and send' => [true, $n + 1],
    // the default batch: every 500th send posts inline (PHP has no threads)
    'send, posting every 500' => [false, 500],
];
foreach ($rows as $label => [$build, $batchSize]) {
    $sender = new Sender(new Config(
        collectorUrl: "http://127.0.0.1:$port",
        source: 'example-service',
        environment: 'bo',
        batchSize: $batchSize,
        maxBatchBytes: $batchSize === 500 ? 1048576 : PHP_INT_MAX,
        queueCapacity: $n + 1,
        batchAge: 3600.0,
    ));
    $e = $event();
    $start = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        $sender->send($build ? $event() : $e);
    }
    $sent = hrtime(true);
    $sender->close();
    printf(
        "php %s: %.2f us/call (target <= 10 us; %d delivered)\n",
        $label,
        ($sent - $start) / 1e3 / $n,
        $sender->stats()['delivered'],
    );
}
proc_terminate($server);
proc_close($server);
unlink($router);
