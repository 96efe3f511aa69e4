int tls_test_placeholder;
