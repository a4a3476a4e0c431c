<?php

// Microseconds per send() of a ClickstreamEventV0 through the generated bo
// langpack (its folder is the first argument), against PHP's built-in server
// as a collector that accepts every batch. PHP has no threads, so send() of
// a full batch posts it inline; the second figure includes posting.
// Prints figures; never passes or fails.

declare(strict_types=1);

$dir = $argv[1];
spl_autoload_register(function (string $class) use ($dir): void {
    $prefix = 'Reestr\\Langpack\\Bo\\';
    if (str_starts_with($class, $prefix)) {
        require $dir . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    }
});

use Reestr\Langpack\Bo\ClickstreamEventV0;
use Reestr\Langpack\Bo\Geo;
use Reestr\Langpack\Bo\Langpack;
use Reestr\Langpack\Bo\User;

$router = tempnam(sys_get_temp_dir(), 'collector') . '.php';
file_put_contents($router, '<?php
$n = substr_count(file_get_contents("php://input"), "\"event_id\":");
header("Content-Type: application/json");
echo "{\"results\":[" . implode(",", array_fill(0, max($n, 0), "{\"status\":\"accepted\"}")) . "]}";');
$sock = stream_socket_server('tcp://127.0.0.1:0');
$port = (int) substr(strrchr(stream_socket_get_name($sock, false), ':'), 1);
fclose($sock);
$server = proc_open(['php', '-S', "127.0.0.1:$port", $router], [1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']], $pipes);
usleep(300000);

function event(): ClickstreamEventV0
{
    return new ClickstreamEventV0(
        user: new User(id: 413, email: 'user413@example.com'),
        geo: new Geo(latitude: 20.22, longitude: -10.11),
        userAgent: 'fluffy_browser',
    );
}

$n = 50000;
foreach (['send' => false, 'build and send' => true] as $label => $build) {
    // a batch as large as the run: the timed loop is send() alone, and
    // the posting is measured separately by flush()
    $sender = new Reestr\Langpack\Bo\Runtime\Sender(new Reestr\Langpack\Bo\Runtime\Config(
        collectorUrl: "http://127.0.0.1:$port",
        source: 'example-service',
        environment: Langpack::ENVIRONMENT,
        batchSize: $n + 1,
        queueCapacity: $n + 1,
    ));
    $e = event();
    $start = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        $sender->send($build ? event() : $e);
    }
    $sent = hrtime(true);
    $sender->flush();
    $end = hrtime(true);
    $s = $sender->stats();
    printf(
        "php %s: %.2f us/call, %.2f us/call with posting (target <= 10 us; %d delivered, %d dropped)\n",
        $label,
        ($sent - $start) / 1e3 / $n,
        ($end - $start) / 1e3 / $n,
        $s['delivered'],
        $s['dropped'],
    );
    $sender->close();
}
proc_terminate($server);
unlink($router);
