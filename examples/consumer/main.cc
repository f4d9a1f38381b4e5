// A program outside dlock's tree that uses the installed library: it takes the lock
// "consumer-example" on a store (file:///tmp/dlock-consumer unless given another URI),
// prints its fencing token, and releases it. Exit 0 on success, 1 with the error.
#include <dlock/locker.h>
#include <dlock/open.h>

#include <chrono>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  const std::string uri = argc > 1 ? argv[1] : "file:///tmp/dlock-consumer";
  auto backend = dlock::OpenBackend(uri);
  if (!backend.ok()) {
    std::cerr << "consumer: " << backend.status().ToString() << "\n";
    return 1;
  }
  dlock::Locker locker(*backend, {.ttl = std::chrono::seconds(10)});
  auto lock = locker.Acquire("consumer-example", {.wait = std::chrono::seconds(5)});
  if (!lock.ok()) {
    std::cerr << "consumer: " << lock.status().ToString() << "\n";
    return 1;
  }
  std::cout << "held consumer-example with fencing token " << lock->token() << "\n";
  dlock::Status released = lock->Release();
  if (!released.ok()) {
    std::cerr << "consumer: " << released.ToString() << "\n";
    return 1;
  }
  std::cout << "released\n";
  return 0;
}
