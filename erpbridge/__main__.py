from erpbridge.cli import main

main()
