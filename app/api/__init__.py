"""HTTP adapters: parse requests, call one service method, render the result."""
