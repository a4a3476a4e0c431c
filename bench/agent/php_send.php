<?php

// Microseconds per send() through the agent's socket, from the generated
// bo langpack (its folder is the first argument; REESTR_AGENT_SOCKET names
// the agent). Prints figures; never passes or fails.

declare(strict_types=1);

$dir = $argv[1];
spl_autoload_register(function (string $c) use ($dir): void {
    $p = 'Reestr\\Langpack\\Bo\\';
    if (str_starts_with($c, $p)) {
        require $dir . '/src/' . str_replace('\\', '/', substr($c, strlen($p))) . '.php';
    }
});

use Reestr\Langpack\Bo\ClickstreamEventV0;
use Reestr\Langpack\Bo\Geo;
use Reestr\Langpack\Bo\Langpack;
use Reestr\Langpack\Bo\User;

$n = 50000;
$s = Langpack::sender('', 'example-service');
$e = new ClickstreamEventV0(user: new User(id: 1), geo: new Geo(latitude: 1.0, longitude: 2.0), userAgent: 'x');
$start = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    $s->send($e);
}
$sent = hrtime(true);
$s->close();
$end = hrtime(true);
printf(
    "php send through the agent's socket: %.2f us/call, %.2f us/call until every answer is read "
    . "(target <= 20 us; %d delivered to the agent)\n",
    ($sent - $start) / 1e3 / $n,
    ($end - $start) / 1e3 / $n,
    $s->stats()['delivered'],
);
