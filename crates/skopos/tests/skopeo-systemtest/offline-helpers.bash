# skopos's offline adaptations of skopeo's system tests. skopeo_systemtest.rs appends this
# file to upstream/helpers.bash (in a temp copy of the suite), so the functions below replace
# upstream's of the same name; nothing else of the suite is changed. Each one stands in for
# something that needs a container runtime or the internet (see README.md):
#
# - start_registry: Debian's docker-registry on the same port, with the same htpasswd user
#   and the same `openssl req -x509` certificate, instead of `podman run registry:2`.
# - podman: `podman rm -f NAME` (the teardowns' way of stopping the registry container)
#   stops that registry; every other podman command (login, logout, load, images) runs the
#   real podman, on the private store run-offline.sh configures.
# - go: `go env GOARCH` (010-inspect asks the Go toolchain for the host architecture),
#   answered from `uname -m`.
#
# $SKOPOS_OFFLINE_STATE (set by run-offline.sh) holds the registries' pid files.

start_registry() {
    local port=5000
    local testuser=
    local testpassword=
    local create_cert=
    local enable_delete=false

    local opt
    for opt; do
        local value=$(expr "$opt" : '[^=]*=\(.*\)')
        case "$opt" in
            --port=*)           port="$value";          shift;;
            --testuser=*)       testuser="$value";      shift;;
            --testpassword=*)   testpassword="$value";  shift;;
            --with-cert)        create_cert=1;          shift;;
            --enable-delete=*)  enable_delete="$value"; shift;;
            -*)                 die "Invalid option '$opt'" ;;
            *)                  break;;
        esac
    done

    local name=${1?start_registry() invoked without a NAME}

    [[ -n $TESTDIR && -d $TESTDIR ]]

    AUTHDIR=$TESTDIR/auth
    mkdir -p $AUTHDIR

    local auth_section=
    if [[ -n $testuser ]]; then
        if [[ -z $testpassword ]]; then
            die "start_registry() invoked with testuser but no testpassword"
        fi
        if ! grep -E -q "^$testuser:" $AUTHDIR/htpasswd 2>/dev/null; then
            htpasswd -Bbn $testuser $testpassword >> $AUTHDIR/htpasswd
        fi
        auth_section="auth:
  htpasswd:
    realm: Registry Realm
    path: $AUTHDIR/htpasswd"
    fi

    local tls_section=
    if [[ -n $create_cert ]]; then
        CERT=$AUTHDIR/domain.crt
        if [ ! -e $CERT ]; then
            log_and_run openssl req -newkey rsa:4096 -nodes -sha256 \
                    -keyout $AUTHDIR/domain.key -x509 -days 2 \
                    -out $CERT \
                    -subj "/C=US/ST=Foo/L=Bar/O=Red Hat, Inc./CN=registry host certificate" \
                    -addext subjectAltName=DNS:localhost
        fi
        tls_section="  tls:
    certificate: $CERT
    key: $AUTHDIR/domain.key"
        mkdir -p $TESTDIR/client-auth
        log_and_run cp $CERT $TESTDIR/client-auth/
    fi

    local config=$SKOPOS_OFFLINE_STATE/registry-$name.yml
    cat >$config <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $TESTDIR/registry-storage-$name
  delete:
    enabled: $enable_delete
http:
  addr: :$port
$tls_section
$auth_section
EOF
    # fd 3 is bats's; a background process holding it would keep bats waiting.
    docker-registry serve $config >$SKOPOS_OFFLINE_STATE/registry-$name.log 2>&1 3>&- &
    echo $! >$SKOPOS_OFFLINE_STATE/registry-$name.pid

    timeout=10
    while [[ $timeout -ge 1 ]]; do
        if echo -n >/dev/tcp/127.0.0.1/$port; then
            return
        fi
        timeout=$(( timeout - 1 ))
        sleep 1
    done
    cat $SKOPOS_OFFLINE_STATE/registry-$name.log
    die "Timed out waiting for registry $name to respond on :$port"
}

podman() {
    if [[ $1 == rm && $2 == -f && -n $3 ]]; then
        local pidfile=$SKOPOS_OFFLINE_STATE/registry-$3.pid
        if [[ -f $pidfile ]]; then
            local pid=$(<$pidfile)
            kill $pid 2>/dev/null
            # The next test's registry needs the port: wait for this one to end (it is a
            # child of this shell when setup and teardown share it; else poll, bounded).
            wait $pid 2>/dev/null
            local tries=100
            while [[ $tries -gt 0 ]] && kill -0 $pid 2>/dev/null \
                    && [[ $(awk '{print $3}' /proc/$pid/stat 2>/dev/null) != Z ]]; do
                tries=$(( tries - 1 ))
                sleep 0.1
            done
            rm -f $pidfile
        fi
        return 0
    fi
    command podman "$@"
}

go() {
    if [[ "$*" == "env GOARCH" ]]; then
        case $(uname -m) in
            x86_64)  echo amd64 ;;
            aarch64) echo arm64 ;;
            i?86)    echo 386 ;;
            *)       uname -m ;;
        esac
        return 0
    fi
    echo "go: only 'go env GOARCH' is available in the offline suite" >&2
    return 127
}
