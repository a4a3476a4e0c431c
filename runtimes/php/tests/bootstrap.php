<?php

declare(strict_types=1);

// The runtime from src/, the tests' own helpers from tests/ (no Composer).
spl_autoload_register(function (string $class): void {
    foreach (['Reestr\\Runtime\\Tests\\' => __DIR__, 'Reestr\\Runtime\\' => __DIR__ . '/../src'] as $prefix => $dir) {
        if (str_starts_with($class, $prefix)) {
            require $dir . '/' . substr($class, strlen($prefix)) . '.php';
            return;
        }
    }
});
