// The header compiles as C++ (g++ -x c++ -Wall -Wextra -Werror) and links from C++.
#include <cstdio>
#include <cstring>
#include <string>

#include "portcullis.h"

int main() {
    const std::string toml = "[service]\nrealm = \"cpp\"\n";
    portcullis_policy *policy = nullptr;
    portcullis_result rc = portcullis_policy_new_from_toml(toml.data(), toml.size(), &policy);
    portcullis_str realm = portcullis_policy_realm(policy);
    bool ok = rc == PORTCULLIS_OK && std::string(realm.data, realm.len) == "cpp" &&
              std::strcmp(portcullis_result_name(PORTCULLIS_KEY_SHAPE), "PORTCULLIS_KEY_SHAPE") == 0;
    portcullis_policy_free(policy);
    std::printf("c++: %s (libportcullis %s)\n", ok ? "ok" : "FAILED", portcullis_version());
    return ok ? 0 : 1;
}
