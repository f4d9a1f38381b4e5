# cmake -DIN=src.proto -DOUT=dst.proto -P StripEtcdProto.cmake
# Debian ships etcd's .proto files with gogoproto and grpc-gateway annotations, which
# protoc cannot resolve here and which C++ does not need: drop those imports and options.
file(READ "${IN}" text)
string(REGEX REPLACE "import \"gogoproto/gogo.proto\";" "" text "${text}")
string(REGEX REPLACE "import \"google/api/annotations.proto\";" "" text "${text}")
string(REGEX REPLACE "option \\(gogoproto\\.[a-z_]+\\) = [a-z]+;" "" text "${text}")
# (an option block may nest one level: additional_bindings { ... })
string(REGEX REPLACE "option \\(google\\.api\\.http\\) = {[^{}]*({[^{}]*}[^{}]*)*};" "" text "${text}")
# Field options such as [(gogoproto.nullable) = false].
string(REGEX REPLACE " *\\[\\(gogoproto\\.[a-z_]+\\) = [^]]*\\]" "" text "${text}")
file(WRITE "${OUT}" "${text}")
