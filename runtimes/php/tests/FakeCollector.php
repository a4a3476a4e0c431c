<?php

declare(strict_types=1);

namespace Reestr\Runtime\Tests;

/**
 * PHP's built-in server as a collector: answers from a script (a list of
 * status codes, then "accept all"), logs every batch to a file.
 */
final class FakeCollector
{
    public string $url;
    private string $dir;
    /** @var resource */
    private $process;

    /** @param list<int> $script */
    public function __construct(array $script = [], string $retryAfter = '')
    {
        $this->dir = sys_get_temp_dir() . '/reestr-fake-' . bin2hex(random_bytes(6));
        mkdir($this->dir);
        file_put_contents($this->dir . '/script.json', json_encode($script));
        file_put_contents($this->dir . '/router.php', '<?php
$dir = ' . var_export($this->dir, true) . ';
$body = file_get_contents("php://input");
$events = json_decode($body, true)["events"];
file_put_contents("$dir/log", json_encode(["t" => microtime(true), "events" => $events]) . "\n", FILE_APPEND | LOCK_EX);
$script = json_decode(file_get_contents("$dir/script.json"), true);
$status = array_shift($script) ?? 200;
file_put_contents("$dir/script.json", json_encode($script));
header("Content-Type: application/json");
if ($status !== 200) {
    http_response_code($status);
    if (' . var_export($retryAfter, true) . ' !== "") { header("Retry-After: ' . $retryAfter . '"); }
    echo json_encode(["error" => "scripted $status"]);
    return;
}
echo json_encode(["results" => array_map(fn ($e) => ["status" => "accepted"], $events)]);
');
        $sock = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) substr(strrchr(stream_socket_get_name($sock, false), ':'), 1);
        fclose($sock);
        $this->url = "http://127.0.0.1:$port";
        $this->process = proc_open(
            ['php', '-S', "127.0.0.1:$port", $this->dir . '/router.php'],
            [1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']],
            $pipes,
        );
        for ($i = 0; $i < 100; $i++) {
            $c = @fsockopen('127.0.0.1', $port);
            if ($c) {
                fclose($c);
                return;
            }
            usleep(20000);
        }
        throw new \RuntimeException('fake collector did not start');
    }

    /** @return list<array{t: float, events: list<array<string, mixed>>}> */
    public function batches(): array
    {
        $log = @file($this->dir . '/log', FILE_IGNORE_NEW_LINES) ?: [];
        return array_map(fn ($l) => json_decode($l, true), $log);
    }

    public function __destruct()
    {
        proc_terminate($this->process);
        proc_close($this->process);
        array_map('unlink', glob($this->dir . '/*'));
        rmdir($this->dir);
    }
}
