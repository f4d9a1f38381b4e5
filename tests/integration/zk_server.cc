#include "integration/zk_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <vector>

namespace dlock::test {
namespace {

constexpr const char* kStorePassword = "dlock-test-store";

// The server's key store (PKCS12, by openssl) and trust store (PKCS12, by keytool, which
// marks the CA trusted as Java wants) under `dir`.
bool MakeStores(const TlsFiles& tls, const std::string& dir) {
  bool ok =
      RunQuiet("openssl pkcs12 -export -in " + tls.server_cert.string() + " -inkey " +
               tls.server_key.string() + " -name server -out " + dir +
               "/server.p12 -passout pass:" + kStorePassword) &&
      RunQuiet("keytool -importcert -noprompt -alias ca -file " + tls.ca_cert.string() +
               " -keystore " + dir + "/trust.p12 -storetype PKCS12 -storepass " + kStorePassword);
  if (!ok) ADD_FAILURE() << "openssl pkcs12 or keytool could not make key stores in " << dir;
  return ok;
}

}  // namespace

std::unique_ptr<ZkServer> ZkServer::Start(const TlsFiles* tls, bool client_auth) {
  std::unique_ptr<ZkServer> server(new ZkServer());
  server->port_ = FreePort();
  std::string pattern = (std::filesystem::temp_directory_path() / "dlock-zk-XXXXXX").string();
  server->dir_ = ::mkdtemp(pattern.data());
  const std::string d = server->dir_.string();
  std::filesystem::create_directories(server->dir_ / "conf");
  std::filesystem::create_directories(server->dir_ / "data");
  std::ofstream cfg(server->dir_ / "conf" / "zoo.cfg");
  cfg << "tickTime=500\ninitLimit=10\nsyncLimit=5\n"
      << "dataDir=" << d << "/data\n"
      << "admin.enableServer=false\n4lw.commands.whitelist=srvr,stat,cons\n"
      << "minSessionTimeout=1000\nmaxSessionTimeout=30000\n";
  if (tls == nullptr) {
    cfg << "clientPort=" << server->port_ << "\nclientPortAddress=127.0.0.1\n";
  } else {
    server->tls_ = *tls;
    if (!MakeStores(*tls, d)) return nullptr;
    // serverCnxnFactory: ZooKeeper passes unknown keys on as zookeeper.* system properties.
    cfg << "secureClientPort=" << server->port_ << "\nsecureClientPortAddress=127.0.0.1\n"
        << "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n"
        << "ssl.keyStore.location=" << d << "/server.p12\nssl.keyStore.type=PKCS12\n"
        << "ssl.keyStore.password=" << kStorePassword << "\n"
        << "ssl.trustStore.location=" << d << "/trust.p12\nssl.trustStore.type=PKCS12\n"
        << "ssl.trustStore.password=" << kStorePassword << "\n"
        << "ssl.clientAuth=" << (client_auth ? "need" : "none") << "\n";
  }
  cfg.close();
  if (!server->Launch()) return nullptr;
  return server;
}

bool ZkServer::Ready() const {
  if (!tls_) return TcpExchange(port_, "srvr").find("Mode: standalone") != std::string::npos;
  // The four-letter word over TLS, with the client certificate in case it is required.
  return PortAccepts(port_) &&
         RunQuiet("printf srvr | timeout 5 openssl s_client -connect " + HostPort() +
                  " -quiet -ign_eof -CAfile " + tls_->ca_cert.string() + " -cert " +
                  tls_->client_cert.string() + " -key " + tls_->client_key.string() +
                  " 2>/dev/null | grep -q 'Mode: standalone'");
}

bool ZkServer::Launch() {
  std::string d = dir_.string();
  // Netty's codec and resolver are not on zookeeper.jar's manifest class path.
  std::vector<std::string> args = {
      "java",
      "-Xmx256m",
      "-Dzookeeper.log.dir=" + d,
      "-cp",
      d + "/conf:/usr/share/java/zookeeper.jar:/usr/share/java/netty-codec.jar:/usr/share/java/"
          "netty-resolver.jar",
      "org.apache.zookeeper.server.quorum.QuorumPeerMain",
      d + "/conf/zoo.cfg"};
  pid_ = SpawnServer(
      args, d + "/zk.out", [&] { return Ready(); }, "zookeeper");
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

std::string ZkServer::TlsQuery(bool client_cert) const {
  if (!tls_) return "";
  std::string query = "tls=true&cacert=" + tls_->ca_cert.string();
  if (client_cert) {
    query += "&cert=" + tls_->client_cert.string() + "&key=" + tls_->client_key.string();
  }
  return query;
}

}  // namespace dlock::test
