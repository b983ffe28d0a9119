FROM alpine
COPY <<EOF /etc/motd
Welcome $USER
EOF
COPY <<"RAW" <<-CHOMP /files/
not $expanded
RAW
	chomped
	CHOMP
