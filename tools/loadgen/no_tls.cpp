// secure.hpp when ringlet was built without TLS (-Dtls=disabled).
#include "secure.hpp"

namespace loadgen {

std::unique_ptr<secure_client> make_secure_client(const options&, std::string& error) {
    error = "this ringlet_loadgen was built without TLS (meson -Dtls=enabled and libwolfssl-dev)";
    return nullptr;
}

}  // namespace loadgen
