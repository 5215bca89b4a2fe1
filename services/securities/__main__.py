from services.securities.main import main

main()
