<?php

declare(strict_types=1);

spl_autoload_register(function (string $class): void {
    if (str_starts_with($class, 'Reestr\\Runtime\\')) {
        require __DIR__ . '/../src/' . substr($class, strlen('Reestr\\Runtime\\')) . '.php';
    }
});
require __DIR__ . '/Events.php';
require __DIR__ . '/FakeCollector.php';
