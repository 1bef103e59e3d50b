#!/usr/bin/env bash
# The trial region's key ceremony, certificates, signed policy set and database passwords, made
# the way separate organisations make them (docs/operations.md): every step runs in the
# directory of the one party that takes it (deploy/compose/state/<party>/), and what passes
# between parties is copied from one directory to the other, as it would be handed over. No
# directory ever holds another party's secret.
#
#   deploy/compose/setup.sh            # everything below, into deploy/compose/state/
#   sudo deploy/compose/setup.sh owners   # (again) give each file to the user that reads it
#
# signaalnet runs from the image (SIGNAALNET_IMAGE, default signaalnet:0.1.0, built from the
# repository's Dockerfile) or, with SIGNAALNET_BIN=/path/to/signaalnet, from a local binary.
# openssl (1.1.1 or 3) plays the certificate authority and each organisation's CSR; the CA is
# the development CA of `signaalnet certs dev` (for a trial only: a region uses PKIoverheid).
#
# The parties (deploy/organisations/): riec runs the coordinator and convenes the ceremony; vng
# and jenv run transcryptor 1 and 2; gemeente-groningen, politie-noord-nederland, nla and
# zvh-groningen each run a partner node; "ca" is the certificate authority and "officer" the
# region's privacy officer, who signs the policy set.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
state="${SIGNAALNET_STATE:-$here/state}"
image="${SIGNAALNET_IMAGE:-signaalnet:0.1.0}"
context="coordinator/riec-noord"

# The users the containers run as: signaalnet (distroless nonroot), PostgreSQL's postgres in the
# postgres image, the OpenTelemetry collector.
signaalnet_uid=65532
postgres_uid=999
collector_uid=10001

# party  role  partner-id  OIN  host  organisation
parties() {
    cat <<'EOF'
riec coordinator coordinator_riec 00000099000000000090 coordinator.riec.example Coördinator signaalnet (RIEC Noord-Nederland, test)
vng transcryptor transcryptor_vng 00000099000000000076 transcryptor.vng.example Transcryptor 1 (VNG Realisatie, test)
jenv transcryptor transcryptor_jenv 00000099000000000083 transcryptor.jenv.example Transcryptor 2 (Ministerie van Justitie en Veiligheid, test)
gemeente-groningen node gemeente_groningen 00000099000000000014 node.gemeente-groningen.example Gemeente Groningen
politie-noord-nederland node politie_noord_nederland 00000099000000000021 node.politie-noord-nederland.example Politie eenheid Noord-Nederland (AVIM/TMM)
nla node nla 00000099000000000038 node.nla.example Nederlandse Arbeidsinspectie
zvh-groningen node zvh_groningen 00000099000000000045 node.zvh-groningen.example Zorg- en Veiligheidshuis Groningen
EOF
}

say() { printf '\n== %s\n' "$*"; }

# `sn DIR ARGS…`: signaalnet in party directory DIR (ARGS relative to it), as that party.
sn() {
    local dir="$1"
    shift
    if [ -n "${SIGNAALNET_BIN:-}" ]; then
        (cd "$dir" && "$SIGNAALNET_BIN" "$@")
    else
        docker run --rm --network none --user "$(id -u):$(id -g)" \
            -v "$dir:/work" -w /work "$image" "$@"
    fi
}

# `hand FROM TO`: a public file handed from one party to another (signed e-mail, file exchange).
hand() {
    mkdir -p "$(dirname "$2")"
    cp "$1" "$2"
}

owners() {
    if [ "$(id -u)" != 0 ]; then
        echo "setting owners needs root: sudo $0 owners" >&2
        return 1
    fi
    local party role rest
    while read -r party role rest; do
        local p="$state/$party"
        chown -R "$signaalnet_uid:$signaalnet_uid" "$p/lib" "$p/secrets"
        chown "$postgres_uid:$postgres_uid" "$p/secrets/db-password" "$p/secrets/db-admin-password"
        chown -R "$collector_uid:$collector_uid" "$p/logboek"
        chmod 0700 "$p/lib" "$p/secrets"
        find "$p/secrets" -type f -exec chmod 0600 {} +
    done < <(parties)
    echo "owners set: signaalnet files $signaalnet_uid, database passwords $postgres_uid, Logboek $collector_uid"
}

if [ "${1:-}" = owners ]; then
    owners
    exit
fi

if [ -e "$state" ]; then
    echo "$state exists. A second ceremony makes every stored pseudonym unmatchable: remove it" >&2
    echo "(and the compose volumes: docker compose down -v) to set the region up anew." >&2
    exit 1
fi
command -v openssl >/dev/null || { echo "openssl is needed" >&2; exit 1; }
umask 077
mkdir -p "$state"

say "certificate authority: a development CA and its revocation list (party: ca)"
mkdir -p "$state/ca"
cp -r "$repo/policies" "$state/ca/policies"
sn "$state/ca" certs dev --policies policies --out pki >/dev/null
# Keep the CA and its list; the leaf certificates of `certs dev` name only localhost.
for f in "$state/ca/pki/"*; do
    case "$(basename "$f")" in ca.pem | ca.key | ca.crl.pem) ;; *) rm -f "$f" ;; esac
done
rm -rf "$state/ca/policies"

say "each organisation: its key and certificate request; the CA issues (PKIoverheid-style: OIN in serialNumber)"
issue() { # party partner-id oin host organisation [subdir]
    local party="$1" name="$2" oin="$3" host="$4" organisation="$5" sub="${6:-}"
    local p="$state/$party"
    mkdir -p "$p/secrets" "$p/tls" "$state/exchange"
    local key="$p/secrets/tls.key" csr="$state/exchange/$name.csr" crt="$state/exchange/$name.pem"
    if [ -n "$sub" ]; then
        mkdir -p "$p/$sub"
        key="$p/$sub/$name.key"
    fi
    # On the organisation's machine: the key never leaves it; the request goes to the CA.
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key" 2>/dev/null
    openssl req -new -utf8 -key "$key" -out "$csr" \
        -subj "/C=NL/O=${organisation//\//\\/}/CN=$host/serialNumber=$oin"
    # At the CA: a server and client certificate for the host name the others call it by.
    cat >"$state/ca/$name.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:$host
subjectKeyIdentifier = hash
EOF
    openssl x509 -req -in "$csr" -CA "$state/ca/pki/ca.pem" -CAkey "$state/ca/pki/ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days 397 -sha256 \
        -extfile "$state/ca/$name.ext" -out "$crt" 2>/dev/null
    chmod 0644 "$crt"
    # The CA keeps a copy to revoke it by name (`signaalnet certs revoke --dir state/ca/pki --name …`).
    cp "$crt" "$state/ca/pki/$name.pem"
    if [ -n "$sub" ]; then
        hand "$crt" "$p/$sub/$name.pem"
    else
        hand "$crt" "$p/tls/tls.crt"
    fi
    hand "$state/ca/pki/ca.pem" "$p/tls/ca.pem"
    echo "  $name: OIN $oin, $host"
}
while read -r party role name oin host organisation; do
    issue "$party" "$name" "$oin" "$host" "$organisation"
done < <(parties)
# The RIEC's analysts call the coordinator's AnalystService with the RIEC's own certificate.
issue riec riec_noord_nederland 00000099000000000052 analyst.riec.example "RIEC Noord-Nederland" analyst
chmod -R go+rX "$state/exchange"

say "the CA's revocation list, to every organisation (re-fetch it before it expires: 30 days)"
while read -r party rest; do
    mkdir -p "$state/$party/crl"
    hand "$state/ca/pki/ca.crl.pem" "$state/$party/crl/ca.crl.pem"
done < <(parties)

say "key ceremony (docs/ceremony.md): riec convenes, vng and jenv contribute in turn"
mkdir -p "$state/riec/ceremony-work" "$state/vng/ceremony-work" "$state/jenv/ceremony-work"
sn "$state/riec" keys open --context "$context" --transcryptors 2 --out ceremony-work/record-0.json
hand "$state/riec/ceremony-work/record-0.json" "$state/vng/ceremony-work/record-0.json"
sn "$state/vng" keys generate --index 1 --out secrets/transcryptor-secrets.json
sn "$state/vng" keys contribute --secrets secrets/transcryptor-secrets.json \
    --record ceremony-work/record-0.json --out ceremony-work/record-1.json
hand "$state/vng/ceremony-work/record-1.json" "$state/jenv/ceremony-work/record-1.json"
sn "$state/jenv" keys generate --index 2 --out secrets/transcryptor-secrets.json
sn "$state/jenv" keys contribute --secrets secrets/transcryptor-secrets.json \
    --record ceremony-work/record-1.json --out ceremony-work/record-2.json
hand "$state/jenv/ceremony-work/record-2.json" "$state/riec/ceremony-work/record-2.json"
sn "$state/riec" keys finish --record ceremony-work/record-2.json --out ceremony-work/system.json
sn "$state/riec" keys verify --record ceremony-work/system.json
while read -r party rest; do
    hand "$state/riec/ceremony-work/system.json" "$state/$party/ceremony/system.json"
done < <(parties)
sn "$state/riec" keys handle-key --out secrets/handle.key

say "the region's privacy officer signs the policy set (party: officer)"
mkdir -p "$state/officer"
cp -r "$repo/policies" "$state/officer/policies"
rm -f "$state/officer/policies/policy.sig"
sn "$state/officer" policy keygen --out officer.key
sn "$state/officer" policy sign policies --key officer.key
sn "$state/officer" policy verify policies --signer officer.key.pub
while read -r party rest; do
    mkdir -p "$state/$party/policies" "$state/$party/policy-signers"
    cp -r "$state/officer/policies/." "$state/$party/policies/"
    hand "$state/officer/officer.key.pub" "$state/$party/policy-signers/officer.key.pub"
done < <(parties)

say "each organisation: its PostgreSQL passwords, its role's directories, its Logboek"
while read -r party rest; do
    p="$state/$party"
    openssl rand -hex 24 | tr -d '\n' >"$p/secrets/db-password"
    openssl rand -hex 24 | tr -d '\n' >"$p/secrets/db-admin-password"
    # libpq's pgpass format, read by the role through PGPASSFILE.
    printf 'postgres:5432:signaalnet:signaalnet:%s\n' "$(cat "$p/secrets/db-password")" >"$p/secrets/pgpass"
    mkdir -p "$p/lib/data" "$p/lib/secrets" "$p/logboek"
    rm -rf "$p/ceremony-work"
done < <(parties)
chmod -R go+rX "$state"/*/tls "$state"/*/crl "$state"/*/ceremony "$state"/*/policies "$state"/*/policy-signers

if [ "$(id -u)" = 0 ]; then
    say "owners"
    owners
else
    say "not root: run 'sudo $0 owners' before 'docker compose up' (the containers' users must own their files)"
fi
say "done: docker compose -f $here/compose.yaml up -d"
