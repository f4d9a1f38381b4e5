#include "integration/zk_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <vector>

#include "integration/server_process.h"

namespace dlock::test {

std::unique_ptr<ZkServer> ZkServer::Start() {
  std::unique_ptr<ZkServer> server(new ZkServer());
  server->port_ = FreePort();
  std::string pattern = (std::filesystem::temp_directory_path() / "dlock-zk-XXXXXX").string();
  server->dir_ = ::mkdtemp(pattern.data());
  std::filesystem::create_directories(server->dir_ / "conf");
  std::filesystem::create_directories(server->dir_ / "data");
  std::ofstream(server->dir_ / "conf" / "zoo.cfg")
      << "tickTime=500\ninitLimit=10\nsyncLimit=5\n"
      << "dataDir=" << (server->dir_ / "data").string() << "\n"
      << "clientPort=" << server->port_ << "\nclientPortAddress=127.0.0.1\n"
      << "admin.enableServer=false\n4lw.commands.whitelist=srvr,stat,cons\n"
      << "minSessionTimeout=1000\nmaxSessionTimeout=30000\n";
  if (!server->Launch()) return nullptr;
  return server;
}

bool ZkServer::Launch() {
  std::string d = dir_.string();
  std::vector<std::string> args = {"java",
                                   "-Xmx256m",
                                   "-Dzookeeper.log.dir=" + d,
                                   "-cp",
                                   d + "/conf:/usr/share/java/zookeeper.jar",
                                   "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                                   d + "/conf/zoo.cfg"};
  pid_ = SpawnServer(
      args, d + "/zk.out",
      [&] { return TcpExchange(port_, "srvr").find("Mode: standalone") != std::string::npos; },
      "zookeeper");
  return pid_ > 0;
}

bool ZkServer::Restart() {
  Stop();
  return Launch();
}

ZkServer::~ZkServer() {
  Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void ZkServer::Stop() { KillServer(pid_); }

std::string ZkServer::HostPort() const { return "127.0.0.1:" + std::to_string(port_); }

std::string ZkServer::Uri(const std::string& suffix) const { return "zk://" + HostPort() + suffix; }

}  // namespace dlock::test
